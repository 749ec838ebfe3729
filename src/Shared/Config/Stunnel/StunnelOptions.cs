namespace Tunnel.Config.Stunnel;

/// <summary>Every option keyword stunnel 5.68 knows (src/options.c), where it may appear, and what becomes of the ones
/// Tunnel does not map: refused (an error saying what to do instead) or ignored with a warning (no effect in Tunnel).
/// The mapped ones are handled by <see cref="StunnelConverter"/>.</summary>
internal static class StunnelOptions
{
    /// <summary>Options valid only in the global section (before the first <c>[service]</c>).</summary>
    public static readonly IReadOnlySet<string> GlobalOnly = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "chroot", "compression", "EGD", "engine", "engineCtrl", "engineDefault", "fips", "foreground", "iconActive", "iconError",
        "iconIdle", "log", "output", "pid", "provider", "providerParameter", "RNDbytes", "RNDfile", "RNDoverwrite", "service",
        "setEnv", "syslog", "taskbar",
    };

    /// <summary>Service-level options (valid in a section, and in the global section as defaults for every service).</summary>
    public static readonly IReadOnlySet<string> ServiceLevel = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "accept", "CAengine", "CAfile", "CApath", "CAstore", "cert", "checkEmail", "checkHost", "checkIP", "ciphers", "ciphersuites", "client",
        "config", "connect", "CRLfile", "CRLpath", "curve", "curves", "debug", "delay", "engineId", "engineNum", "exec", "execArgs", "failover",
        "ident", "key", "libwrap", "local", "logId", "OCSP", "OCSPaia", "OCSPflag", "OCSPnonce", "OCSPrequire", "options", "protocol",
        "protocolAuthentication", "protocolDomain", "protocolHeader", "protocolHost", "protocolPassword", "protocolUsername", "PSKidentity",
        "PSKsecrets", "pty", "redirect", "renegotiation", "requireCert", "reset", "retry", "securityLevel", "session", "sessionCacheSize",
        "sessionCacheTimeout", "sessionResume", "sessiond", "setgid", "setuid", "sni", "socket", "sslVersion", "sslVersionMax", "sslVersionMin",
        "stack", "ticketKeySecret", "ticketMacSecret", "TIMEOUTbusy", "TIMEOUTclose", "TIMEOUTconnect", "TIMEOUTidle", "TIMEOUTocsp",
        "transparent", "verify", "verifyChain", "verifyPeer",
    };

    /// <summary>Options Tunnel cannot honour, whatever their value, with what to do instead.</summary>
    public static readonly IReadOnlyDictionary<string, string> Refused = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["chroot"] = "Tunnel does not chroot; remove it and confine the service with systemd (ProtectSystem=strict, ReadOnlyPaths=, TemporaryFileSystem=) or run it in a container",
        ["compression"] = "TLS compression is not supported (CRIME); remove it",
        ["engine"] = "OpenSSL engines are not supported; use a PEM or PKCS#12 key file (cert/key), or keep stunnel for this service",
        ["engineCtrl"] = "OpenSSL engines are not supported; use a PEM or PKCS#12 key file (cert/key)",
        ["engineDefault"] = "OpenSSL engines are not supported; use a PEM or PKCS#12 key file (cert/key)",
        ["engineId"] = "OpenSSL engines are not supported; use a PEM or PKCS#12 key file (cert/key)",
        ["engineNum"] = "OpenSSL engines are not supported; use a PEM or PKCS#12 key file (cert/key)",
        ["provider"] = "OpenSSL providers (PKCS#11 tokens) are not supported; use a PEM or PKCS#12 key file (cert/key)",
        ["providerParameter"] = "OpenSSL providers are not supported; use a PEM or PKCS#12 key file (cert/key)",
        ["CAengine"] = "CA certificates from an engine are not supported; export them into one PEM bundle and set CAfile",
        ["CAstore"] = "OSSL_STORE URIs are not supported; export the CA certificates into one PEM bundle and set CAfile",
        ["CRLpath"] = "a hashed CRL folder is not read; concatenate its CRLs into one file (cat DIR/*.r* > crl.pem) and set CRLfile",
        ["checkEmail"] = "certificates are not matched by e-mail address; on tunnel-server use checkHost (becomes 'allow': dns:/cn:) or 'allow' with cn:, dns:, uri: or spki:",
        ["config"] = "raw OpenSSL SSL_CONF commands are not supported; remove it (Tunnel's TLS settings are tlsMinVersion and the certificate options)",
        ["curve"] = "ECDH groups are not configurable (OpenSSL's defaults: X25519, P-256, P-384...); remove it",
        ["curves"] = "ECDH groups are not configurable (OpenSSL's defaults: X25519, P-256, P-384...); remove it",
        ["exec"] = "Tunnel only connects to a TCP address (connect), it does not start programs; run the program as a TCP service (e.g. a systemd socket unit) and connect to it",
        ["execArgs"] = "Tunnel does not start programs; see exec",
        ["pty"] = "Tunnel does not start programs; see exec",
        ["ident"] = "RFC 1413 ident checks are not supported; identify clients by certificate ('allow' on tunnel-server)",
        ["local"] = "the source address of outgoing connections is not configurable; remove it (the kernel picks it from the route)",
        ["OCSP"] = "OCSP checks are not supported; revoke with a CRL instead (CRLfile, i.e. 'crl' on tunnel-server; `certs revoke` and `certs crl` make one)",
        ["PSKidentity"] = "TLS-PSK is not supported; authenticate with certificates (cert/key, CAfile, verifyChain; `certs init-ca` and `certs issue` make them)",
        ["PSKsecrets"] = "TLS-PSK is not supported; authenticate with certificates (cert/key, CAfile, verifyChain; `certs init-ca` and `certs issue` make them)",
        ["protocolDomain"] = "NTLM proxy authentication is not supported; use Basic (protocolUsername/protocolPassword) or ask for a proxy exception",
        ["protocolHeader"] = "extra CONNECT request headers are not supported; remove it",
        ["securityLevel"] = "the OpenSSL security level is not configurable (the system default applies); remove it",
        ["sessiond"] = "an external session cache is not supported; remove it (each process resumes its own sessions)",
        ["ticketKeySecret"] = "fixed session ticket keys are not supported; remove it (resumption after a restart or across a fleet costs one full handshake)",
        ["ticketMacSecret"] = "fixed session ticket keys are not supported; remove it",
        ["CApath"] = "a hashed CA folder is not read; concatenate the CA certificates into one bundle (cat DIR/*.pem > ca-bundle.pem) and set CAfile",
    };

    /// <summary>Options that have no effect in Tunnel, with why.</summary>
    public static readonly IReadOnlyDictionary<string, string> NoEffect = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["foreground"] = "no effect: Tunnel always runs in the foreground and logs to stderr (under systemd, the journal)",
        ["EGD"] = "no effect: Tunnel seeds from the operating system's random source",
        ["RNDbytes"] = "no effect: Tunnel seeds from the operating system's random source",
        ["RNDfile"] = "no effect: Tunnel seeds from the operating system's random source",
        ["RNDoverwrite"] = "no effect: Tunnel seeds from the operating system's random source",
        ["service"] = "no effect: Tunnel does not log to syslog (its stderr goes to the journal under systemd)",
        ["iconActive"] = "no effect: Windows GUI option",
        ["iconError"] = "no effect: Windows GUI option",
        ["iconIdle"] = "no effect: Windows GUI option",
        ["taskbar"] = "no effect: Windows GUI option",
        ["stack"] = "no effect: Tunnel serves connections asynchronously, not with a thread per connection",
        ["setEnv"] = "no effect: Tunnel starts no child processes",
        ["logId"] = "no effect: every Tunnel log line about a connection names it by its addresses",
        ["TIMEOUTocsp"] = "no effect: Tunnel does no OCSP checks",
        ["OCSPflag"] = "no effect: Tunnel does no OCSP checks",
        ["OCSPnonce"] = "no effect: Tunnel does no OCSP checks",
        ["OCSPrequire"] = "no effect: Tunnel does no OCSP checks",
        ["TIMEOUTbusy"] = "no direct equivalent: Tunnel bounds the TLS handshake with handshakeTimeout (10s) and data the peer does not acknowledge with tcpUserTimeout (30s); kept at those defaults",
    };
}
