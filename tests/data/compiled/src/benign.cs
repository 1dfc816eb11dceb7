// A compiled benign page: greets the visitor by the name in the query string.
namespace ASP {
    public class default_aspx : System.Web.UI.Page {
        protected void Page_Load(object sender, System.EventArgs e) {
            string name = Request.QueryString["name"] ?? "guest";
            Response.Write("Hello " + Server.HtmlEncode(name));
        }
    }
}
