namespace Tunnel.Certs.Cli;

/// <summary>The <c>certs list --json</c> document.</summary>
/// <param name="Directory">The state folder listed.</param>
/// <param name="CrlNumber">Number of the last CRL written (0: none yet).</param>
/// <param name="CrlNextUpdate">When that CRL must be replaced.</param>
/// <param name="Certificates">The certificates, CAs first.</param>
internal sealed record ListReport(string Directory, long CrlNumber, DateTimeOffset? CrlNextUpdate, IReadOnlyList<ListRow> Certificates);
