namespace Tunnel.Config;

/// <summary>A configuration file converted to JSON from another format (a stunnel.conf): the JSON that stands in for
/// it, and where each key came from in the original (key → <c>file:line (option)</c>), so that errors point at the
/// line to fix.</summary>
internal sealed record ConvertedFile(string Json, IReadOnlyDictionary<string, string> Origins);
