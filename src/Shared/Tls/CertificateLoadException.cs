namespace Tunnel.Tls;

/// <summary>Certificate material could not be used; the message names the file, what is wrong and how to fix it.</summary>
internal sealed class CertificateLoadException(string message, Exception? inner = null) : Exception(message, inner);
