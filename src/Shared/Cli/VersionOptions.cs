using CommandLine;

namespace Tunnel.Cli;

[Verb("version", HelpText = "Print the version, the .NET runtime and the OpenSSL library in use.")]
internal sealed class VersionOptions
{
}
