// Reconnaissance pages: packet sniffers on a raw socket and registry browsers. A web
// application has no reason to read every packet of the host or to walk the registry hives.

rule recon_raw_socket_sniffer
{
    meta:
        description = "Server-side page opening a raw IP socket in promiscuous (receive-all) mode: a packet sniffer"
        severity = "high"
        category = "recon"
        author = "deadbox"
    strings:
        $raw = /SocketType\s*\.\s*Raw/ nocase
        $all1 = "SIO_RCVALL" nocase
        $all2 = /IOControlCode\s*\.\s*ReceiveAll/ nocase
        $all3 = /\.IOControl\s*\(/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and $raw and any of ($all*) and any of ($ss*)
}

rule recon_registry_browser
{
    meta:
        description = "Server-side page walking the registry hives or opening a registry key the request names (registry browser)"
        severity = "high"
        category = "recon"
        author = "deadbox"
    strings:
        $h1 = /Registry\s*\.\s*LocalMachine/ nocase
        $h2 = /Registry\s*\.\s*ClassesRoot/ nocase
        $h3 = /Registry\s*\.\s*CurrentUser/ nocase
        $h4 = /Registry\s*\.\s*Users/ nocase
        $h5 = /Registry\s*\.\s*CurrentConfig/ nocase
        $walk1 = "GetSubKeyNames" nocase
        $walk2 = "GetValueNames" nocase
        $open_req = /OpenSubKey\s*\([^;]{0,200}(Request\s*(\.\s*(QueryString|Form|Params|Item|Cookies|Headers)\s*)?[\[\(]|\.Text\s*([\),;+\]&]|\.Trim|\.ToString))/ nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService|Control)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($ss*) and any of ($walk*) and
        (3 of ($h*) or $open_req)
}
