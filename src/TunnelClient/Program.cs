using Tunnel.Cli;
using Tunnel.Client;
using Tunnel.Client.Cli;
using Tunnel.Client.Options;
using Tunnel.Hosting;

const string ProgramName = "tunnel-client";

return await CommandLineApp.RunAsync(ProgramName, args, [typeof(ClientRunOptions), typeof(VersionOptions)], verb => verb switch
{
    ClientRunOptions run => DaemonProgram.RunAsync(ProgramName, run, ClientOptionsReader.Read, o => o.Process, ClientApp.Create),
    VersionOptions => Task.FromResult(PrintVersion()),
    _ => Task.FromResult(ExitCodes.Usage),
});

static int PrintVersion()
{
    Console.WriteLine(VersionInfo.Describe(ProgramName));
    return ExitCodes.Ok;
}
