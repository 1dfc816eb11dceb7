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
        // literals, not `Registry\s*\.\s*X` regexes: "registry" is a common word, and a
        // literal's atom is verified by one comparison; the normalised form of a script (which
        // these rules also see) has no whitespace around the dot
        $h1 = "Registry.LocalMachine" nocase
        $h2 = "Registry.ClassesRoot" nocase
        $h3 = "Registry.CurrentUser" nocase
        $h4 = "Registry.Users" nocase
        $h5 = "Registry.CurrentConfig" nocase
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
