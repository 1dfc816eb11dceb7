// HTTP tunnels (reGeorg, Neo-reGeorg, Tunna, ABPTTS-like): a server-side page opens a TCP
// socket to a host and port taken from the request, keeps it in the session and relays
// bytes (often base64) between the socket and HTTP bodies.

rule tunnel_regeorg_headers
{
    meta:
        description = "Server-side page answering with reGeorg-style tunnel control headers (X-STATUS / X-CMD / X-ERROR) around a socket"
        severity = "critical"
        category = "tunnel"
        author = "deadbox"
    strings:
        $h1 = "\"X-STATUS\"" nocase
        $h2 = "\"X-CMD\"" nocase
        $h3 = "\"X-ERROR\"" nocase
        $h4 = "\"X-TARGET\"" nocase
        $sock1 = /new\s+(System\.Net\.Sockets\.)?Socket\s*\(/ nocase
        $sock2 = /new\s+(System\.Net\.Sockets\.)?TcpClient\s*\(/ nocase
    condition:
        uint16(0) != 0x5A4D and 2 of ($h*) and any of ($sock*)
}

rule tunnel_socket_relay
{
    meta:
        description = "Server-side page connecting a socket chosen by the request and relaying request/response bodies through it (HTTP tunnel)"
        severity = "high"
        category = "tunnel"
        author = "deadbox"
    strings:
        $sock1 = /new\s+(System\.Net\.Sockets\.)?Socket\s*\(/ nocase
        $sock2 = /new\s+(System\.Net\.Sockets\.)?TcpClient\s*\(/ nocase
        $conn = /\.(Connect|BeginConnect|ConnectAsync)\s*\(/ nocase
        $req1 = /Request\s*\.\s*(QueryString|Headers|Form|Params|Item|BinaryRead|InputStream)/ nocase
        $req2 = /[^A-Za-z]Request\s*(\[|\(|\.Form|\.Item|\.BinaryRead|\.InputStream|\.Params|\.QueryString|\.Headers|\.Cookies)/ nocase
        $send = /\.(Send|Write|BeginSend)\s*\(/ nocase
        $recv = /\.(Receive|Read|BeginReceive)\s*\(/ nocase
        $keep1 = /(Session|Application)\s*(\[|\(|\.Add\s*\()/ nocase
        $keep2 = /Response\s*\.\s*(BinaryWrite|OutputStream)/ nocase
        $keep3 = "ToBase64String" nocase
        $keep4 = "FromBase64String" nocase
        $ss1 = /runat\s*=\s*["']?server/ nocase
        $ss2 = /<%@\s{0,8}(Page|WebHandler|WebService)/ nocase
        $ss3 = "IHttpHandler" nocase
    condition:
        uint16(0) != 0x5A4D and any of ($sock*) and $conn and any of ($req*) and $send and $recv and
        2 of ($keep*) and any of ($ss*)
}
