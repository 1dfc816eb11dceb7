// A compiled benign page that runs a converter it names itself and waits (output not returned).
namespace ASP {
    public class thumbs_aspx : System.Web.UI.Page {
        protected void Page_Load(object sender, System.EventArgs e) {
            string id = Request.QueryString["id"];
            var p = System.Diagnostics.Process.Start("convert.exe", "in.png out.png");
            p.WaitForExit();
            Response.Write("done " + Server.HtmlEncode(id));
        }
    }
}
