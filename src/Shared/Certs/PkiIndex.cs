namespace Tunnel.Certs;

/// <summary>The state folder's database (<c>index.json</c>): every certificate issued and the CRL counter.</summary>
internal sealed record PkiIndex
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>Number of the last CRL written (RFC 5280 §5.2.3: it only grows); 0 before the first.</summary>
    public long CrlNumber { get; init; }

    public DateTimeOffset? CrlThisUpdate { get; init; }

    public DateTimeOffset? CrlNextUpdate { get; init; }

    public IReadOnlyList<IndexEntry> Certificates { get; init; } = [];

    /// <summary>The certificate a name currently stands for (not superseded), if any.</summary>
    public IndexEntry? Current(string name) =>
        Certificates.LastOrDefault(e => e.IsCurrent && string.Equals(e.Name, name, StringComparison.Ordinal));

    public IndexEntry? BySerial(string serial) =>
        Certificates.FirstOrDefault(e => string.Equals(e.Serial, serial, StringComparison.OrdinalIgnoreCase));

    public PkiIndex Replace(IndexEntry old, IndexEntry updated) =>
        this with { Certificates = Certificates.Select(e => ReferenceEquals(e, old) ? updated : e).ToList() };

    public PkiIndex Add(IndexEntry entry) => this with { Certificates = [.. Certificates, entry] };
}
