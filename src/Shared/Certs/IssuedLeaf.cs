using System.Security.Cryptography.X509Certificates;

namespace Tunnel.Certs;

/// <summary>The outcome of issuing a leaf: its index entry, the certificate (with key), and the entry it replaced.</summary>
internal sealed record IssuedLeaf(IndexEntry Entry, X509Certificate2 Certificate, IndexEntry? Replaced);
