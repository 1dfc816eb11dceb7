// File managers and droppers (AspxSpy-like): a server-side page that browses directories
// or drives, deletes, downloads and uploads files on behalf of the request, or writes an
// uploaded file next to itself. Content-management pages do some of these; a web shell
// does them all, or does them where a normal application never would.

rule filemanager_browse_upload_delete_download
{
    meta:
        description = "Server-side page that lists directories, deletes files, serves files for download and saves uploads (web file manager)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        $list1 = /\.GetFiles\s*\(/ nocase
        $list2 = /\.GetDirectories\s*\(/ nocase
        $list4 = "GetFileSystemInfos" nocase
        $list5 = "GetFileSystemEntries" nocase
        $del1 = /File\s*\.\s*Delete\s*\(/ nocase
        $del2 = /Directory\s*\.\s*Delete\s*\(/ nocase
        $dl1 = /Response\s*\.\s*(WriteFile|TransmitFile)\s*\(/ nocase
        $dl2 = /Content-Disposition["']?\s*,\s*["']attachment/ nocase
        $up1 = /\.SaveAs\s*\(/ nocase
        $up2 = "PostedFile" nocase
        $up3 = "Request.Files" nocase
        $req = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        // reach beyond the application's own folders: drives, or paths straight from the request
        $reach1 = "GetLogicalDrives" nocase
        $reach2 = "DriveInfo" nocase
        $reach3 = /(File|Directory)\s*\.\s*Delete\s*\(\s*Request/ nocase
        $reach4 = /(WriteFile|TransmitFile)\s*\(\s*Request/ nocase
        $reach5 = /DirectoryInfo\s*\(\s*Request/ nocase
        $reach6 = /SaveAs\s*\(\s*Request/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ss*) and any of ($list*) and any of ($del*) and
        any of ($dl*) and any of ($up*) and $req and any of ($reach*)
}

rule filemanager_drive_enumeration
{
    meta:
        description = "Server-side page enumerating the server's drives and changing files (web file manager)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        $drives = /(Directory|Environment)\s*\.\s*GetLogicalDrives/ nocase
        $drives2 = /DriveInfo\s*\.\s*GetDrives/ nocase
        $list1 = /\.GetFiles\s*\(/ nocase
        $list2 = /\.GetDirectories\s*\(/ nocase
        $chg1 = /(File|Directory)\s*\.\s*(Delete|Move|Copy)\s*\(/ nocase
        $chg2 = /\.SaveAs\s*\(/ nocase
        $chg3 = /StreamWriter\s*\(/ nocase
        $chg4 = "FileMode.Create" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($drives*) and any of ($list*) and any of ($chg*) and any of ($ss*)
}

rule filemanager_upload_to_own_folder
{
    meta:
        description = "Server-side page saving an uploaded file into its own folder or to a path chosen by the request (web shell uploader)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        $src1 = "PostedFile" nocase
        $src2 = "Request.Files" nocase
        $dst1 = "Request.PhysicalPath" nocase
        $dst2 = /MapPath\s*\(\s*["']\.?\/?["']\s*\)/ nocase
        $dst3 = /SaveAs\s*\([^;]{0,120}[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.QueryString|\.Params|\.Files)/ nocase
        $dst4 = /MapPath\s*\(\s*Request\s*[\.\[\(]/ nocase
        $sink1 = /\.SaveAs\s*\(/ nocase
        $sink2 = "FileMode.Create" nocase
        $sink3 = "WriteAllBytes" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
        $ss4 = /<%\s{0,8}if\s*\(\s*Request/ nocase
        // an inline block saving an upload (VB or C# one-liner without a directive)
        $ss5 = /<%[^%]{0,200}\.SaveAs\s*\(/ nocase
    condition:
        uint16(0) != 0x5A4D and any of ($src*) and any of ($dst*) and any of ($sink*) and any of ($ss*)
}

rule filemanager_timestomp
{
    meta:
        description = "Server-side page that rewrites both file and directory timestamps (timestomping file manager)"
        severity = "medium"
        category = "filemanager"
        author = "deadbox"
    strings:
        $f = /File\s*\.\s*Set(CreationTime|LastWriteTime|LastAccessTime)\s*\(/ nocase
        $d = /Directory\s*\.\s*Set(CreationTime|LastWriteTime|LastAccessTime)\s*\(/ nocase
        $req = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and $f and $d and $req and any of ($ss*)
}

rule filemanager_classic_asp_fso
{
    meta:
        description = "Classic ASP page browsing drives/folders and deleting or writing files through FileSystemObject on request (ASP file manager)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        $fso = "Scripting.FileSystemObject" nocase
        $list1 = /\.GetFolder\s*\(/ nocase
        $list2 = /\.Drives[\s\)]/ nocase
        $list3 = /\.SubFolders[\s\)]/ nocase
        $chg1 = /\.DeleteFile\s*[\( ]/ nocase
        $chg2 = /\.DeleteFolder\s*[\( ]/ nocase
        $chg3 = "ADODB.Stream" nocase
        $chg4 = /\.CreateTextFile\s*\(/ nocase
        $req = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
    condition:
        uint16(0) != 0x5A4D and $fso and 2 of ($list*) and 2 of ($chg*) and $req
}

// "From the request" below: Request[..], Request(..), Request.QueryString/Form/Params/Item/
// Cookies/Headers[..], or the Text of a server control (txtPath.Text). On the normalised form
// of a script a variable assigned once from such a value is replaced by the value.

rule filemanager_request_path_browser
{
    meta:
        description = "Server-side page listing a directory the request names and deleting, moving, writing or serving files at paths the request names, or listing the drives (web file browser)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        // the folder is the request value itself (or MapPath of it), not a folder of the
        // application in which the request only picks a name (MapPath("~/gallery/" + …))
        // one pattern per method, not one alternation: each is then found by its method's
        // name, not by the request tail ("Request", ".Text"), common in text and markup
        $enum1 = /GetFiles\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $enum2 = /GetDirectories\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $enum3 = /GetFileSystemInfos\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $enum4 = /GetFileSystemEntries\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $enum5 = /EnumerateFiles\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $enum6 = /EnumerateDirectories\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $enum7 = /DirectoryInfo\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $act1 = /File\s*\.\s*(Delete|Move|Copy|SetAttributes|SetCreationTime|SetLastWriteTime)\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $act6 = /Directory\s*\.\s*(Delete|Move|Copy|SetAttributes|SetCreationTime|SetLastWriteTime)\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        // one pattern per method, not one alternation: each is then found by its method's
        // name, not by the request tail ("Request", ".Text"), common in text and markup
        $write1 = /WriteAllBytes\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write2 = /WriteAllText\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write3 = /AppendAllText\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write4 = /StreamWriter\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write5 = /CreateText\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write6 = /OpenWrite\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write7 = /TransmitFile\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write8 = /WriteFile\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write9 = /SaveAs\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $write10 = /FileStream\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $act3 = /DriveInfo\s*\.\s*GetDrives/ nocase
        $act4 = "GetLogicalDrives" nocase
        // a file created only to be closed again: probing which folders are writable
        $act5 = /File\s*\.\s*Create\s*\([^;]{0,120}\)\s*\.\s*(Close|CanWrite|Dispose)/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ss*) and any of ($enum*) and any of ($act*, $write*)
}

rule filemanager_request_path_and_content_writer
{
    meta:
        description = "Server-side page writing a file whose path and content both come from the request (web shell dropper)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        // the file is the request value itself (or MapPath of it), not a file of the
        // application whose name the request only completes
        // one pattern per method, not one alternation: each is then found by its method's
        // name, not by the request tail ("Request", ".Text"), common in text and markup
        $path1 = /StreamWriter\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $path2 = /CreateText\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $path3 = /WriteAllText\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $path4 = /WriteAllBytes\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $path5 = /AppendAllText\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $path6 = /FileStream\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $path7 = /File\s*\.\s*Create\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $path8 = /FileInfo\s*\(\s*\(*\s*((Server\s*\.\s*)?MapPath\s*\(\s*\(*\s*)?([A-Za-z_][A-Za-z0-9_]{0,20}\s*\.\s*){0,3}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $content = /\.(Write|WriteLine)\s*\(\s*\(*\s*(this\s*\.\s*)?(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|[A-Za-z0-9_]{1,60}\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ss*) and any of ($path*) and $content
}

rule filemanager_writes_script_next_to_itself
{
    meta:
        description = "Server-side page writing a server script (.aspx/.asp/.ashx/...) under a fixed name next to itself (web shell dropper)"
        severity = "high"
        category = "filemanager"
        author = "deadbox"
    strings:
        $w = /(StreamWriter|CreateText|WriteAllText|WriteAllBytes|AppendAllText|File\s*\.\s*Create|OpenWrite|FileStream|SaveAs|File\s*\.\s*Copy)\s*\(\s*[^;]{0,160}(PhysicalPath\s*\+\s*["'][^"']{0,20}|MapPath\s*\(\s*["'][^"'\/\\]{1,40})\.(aspx|asp|ashx|asmx|asa|cer|cdx)["']/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ss*) and $w
}
