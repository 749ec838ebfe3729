namespace Tunnel.Certs;

/// <summary>Where everything lives in a state folder, easy-rsa style. Paths in the index are relative to
/// <see cref="Directory"/>, so the folder can be moved or mounted elsewhere.</summary>
/// <param name="Directory">The state folder as the operator named it (kept relative for messages).</param>
internal sealed record PkiLayout(string Directory)
{
    public const string RootName = "ca";
    public const string IntermediateName = "intermediate";

    public string RootCertificate => Combine("ca.pem");

    public string RootKey => Combine("private/ca.key");

    public string IntermediateCertificate => Combine("intermediate.pem");

    public string IntermediateKey => Combine("private/intermediate.key");

    /// <summary>What daemons use as <c>ca</c>: the root, then the intermediate if any.</summary>
    public string Bundle => Combine("ca-bundle.pem");

    public string Crl => Combine("crl.pem");

    public string Index => Combine("index.json");

    public string Lock => Combine(".lock");

    public string Private => Combine("private");

    public static string RelativeCertificate(string name) => $"issued/{name}.pem";

    public static string RelativeKey(string name) => $"private/{name}.key";

    /// <summary>Where a renewed certificate moves, so the name's current file always holds the newest one.</summary>
    public static string RelativeArchivedCertificate(string name, string serial) => $"renewed/{name}-{serial}.pem";

    public static string RelativeArchivedKey(string name, string serial) => $"private/renewed/{name}-{serial}.key";

    public static string RelativePkcs12(string name) => $"private/{name}.p12";

    /// <summary>A path inside the state folder from one relative to it.</summary>
    public string Combine(string relative) => Path.Combine(Directory, relative);
}
