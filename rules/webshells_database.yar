// Database consoles and stored-procedure abuse: a server-side page that connects to a
// database server the request (or a form field of the page) names and runs SQL the request
// supplies; or that drives SQL Server's OS-level procedures (xp_cmdshell, sp_oacreate,
// sp_makewebtask, registry and file procedures). Applications keep their connection strings
// in configuration and their SQL in code: neither comes from the visitor.
//
// "From the request" below means Request[..], Request(..), Request.QueryString/Form/Params/
// Item/Cookies/Headers[..], or the Text of a server control (txtSql.Text). On the normalised
// form of a script (src/scan/normalize.rs) a variable assigned once from such a value is
// replaced by the value, so these patterns also see data passed through variables.

rule database_console_request_connection
{
    meta:
        description = "Server-side page opening a database connection whose connection string (or its credentials) comes from the request and running SQL that comes from the request (database console web shell)"
        severity = "high"
        category = "database"
        author = "deadbox"
    strings:
        $conn1 = /(Sql|OleDb|Odbc|MySql|Oracle|Npgsql)Connection\s*\([^;]{0,240}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $conn2 = /\.ConnectionString\s*=\s*[^;\n]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $conn3 = /\.Open\s*[\( ]\s*\(*\s*request\s*(\.\s*(querystring|form|item)\s*)?\(/ nocase
        // the credentials of a connection string from the request or a form field, by
        // string.Format ("...Password={2}...", txtHost.Value, ...) or by concatenation
        $conn4 = /(password|pwd)\s*=\s*\{\d\}[^"\n]{0,160}"\s*,\s*\(*\s*(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.(Text|Value)\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $conn5 = /(password|pwd)\s*=\s*["']\s*[+&]\s*\(*\s*(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.(Text|Value)\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $sql1 = /(Sql|OleDb|Odbc|MySql|Oracle)Command\s*\(\s*\(*\s*(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_.]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $sql5 = /(Sql|OleDb|Odbc|MySql)DataAdapter\s*\(\s*\(*\s*(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_.]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $sql2 = /\.CommandText\s*=\s*\(*\s*(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_.]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $sql3 = /\.Execute\s*[\( ]\s*\(*\s*request\s*(\.\s*(querystring|form|item)\s*)?\(/ nocase
        // SQL text built from the request: "select * from " + txtTable.Text
        $sql4 = /["'](select|insert|update|delete|exec|execute|drop|create|alter|backup)\s[^"';\n]{0,80}["']\s*[+&]\s*\(*\s*(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_.]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control|Language)/ nocase
        $ss3 = "IHttpHandler" nocase
        $ss4 = "Server.CreateObject" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($conn*) and any of ($sql*) and any of ($ss*)
}

rule database_os_procedures
{
    meta:
        description = "Server-side page calling SQL Server procedures that reach the operating system (xp_cmdshell, sp_oacreate/sp_oamethod, sp_makewebtask, xp_regwrite, xp_dirtree, sp_addextendedproc) through a database connection"
        severity = "high"
        category = "database"
        author = "deadbox"
    strings:
        $p1 = "xp_cmdshell" nocase
        $p2 = "sp_oacreate" nocase
        $p3 = "sp_oamethod" nocase
        $p4 = "sp_makewebtask" nocase
        $p5 = "xp_regwrite" nocase
        $p6 = "xp_dirtree" nocase
        $p7 = "sp_addextendedproc" nocase
        $p8 = "xp_subdirs" nocase
        $db1 = "SqlConnection" nocase
        $db2 = "OleDbConnection" nocase
        $db3 = "OdbcConnection" nocase
        $db4 = "ADODB.Connection" nocase
        $db5 = "SqlCommand" nocase
        $db6 = "OleDbCommand" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control|Language)/ nocase
        $ss3 = "IHttpHandler" nocase
        $ss4 = "Server.CreateObject" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($p*) and any of ($db*) and any of ($ss*)
}
