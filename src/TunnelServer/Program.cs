using Tunnel.Cli;
using Tunnel.Hosting;
using Tunnel.Server;
using Tunnel.Server.Cli;
using Tunnel.Server.Options;

const string ProgramName = "tunnel-server";

return await CommandLineApp.RunAsync(ProgramName, args, [typeof(ServerRunOptions), typeof(VersionOptions)], verb => verb switch
{
    ServerRunOptions run => DaemonProgram.RunAsync(ProgramName, run, ServerOptionsReader.Read, o => o.Process, ServerApp.Create),
    VersionOptions => Task.FromResult(PrintVersion()),
    _ => Task.FromResult(ExitCodes.Usage),
});

static int PrintVersion()
{
    Console.WriteLine(VersionInfo.Describe(ProgramName));
    return ExitCodes.Ok;
}
