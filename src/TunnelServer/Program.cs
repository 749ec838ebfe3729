using Tunnel.Certs.Cli;
using Tunnel.Cli;
using Tunnel.Common;
using Tunnel.Hosting;
using Tunnel.Server;
using Tunnel.Server.Cli;
using Tunnel.Server.Options;

const string ProgramName = ServerApp.ProgramName;

// "certs ..." is a command family of its own, with its own verbs; it is handed over before the daemon's parser.
if (args is ["certs", ..])
{
    return await CertsProgram.RunAsync(ProgramName + " certs", args[1..]);
}

return await CommandLineApp.RunAsync(ProgramName, args, [typeof(ServerRunOptions), typeof(VersionOptions), typeof(CertsVerbOptions), typeof(ImportStunnelOptions)], verb => verb switch
{
    ServerRunOptions run => DaemonProgram.RunAsync(ProgramName, run, ServerOptionsReader.Read, ServerApp.Create),
    VersionOptions => Task.FromResult(PrintVersion()),
    ImportStunnelOptions import => ImportStunnelCommand.RunAsync(import, Tunnel.Config.Stunnel.StunnelRole.Server, ServerOptionsReader.Read, Console.Out, Console.Error),
    _ => Task.FromResult(ExitCodes.Usage),
});

static int PrintVersion()
{
    Console.WriteLine(VersionInfo.Describe(ProgramName));
    return ExitCodes.Ok;
}
