namespace Tunnel.Common;

/// <summary>Something that re-reads its files on SIGHUP (certificates, CA, CRL, allow-list). A failed reload keeps
/// the old state and logs why; it never throws.</summary>
internal interface IReloadable
{
    /// <summary>Reloads and returns true when the new state is in effect.</summary>
    bool Reload();
}
