namespace Tunnel.Certs;

/// <summary>The recorded state of an issued certificate. Expiry is not recorded: it follows from the date.</summary>
internal enum EntryStatus
{
    Valid,
    Revoked,
}
