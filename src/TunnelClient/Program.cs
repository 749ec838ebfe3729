using Tunnel.Certs.Cli;
using Tunnel.Cli;
using Tunnel.Client;
using Tunnel.Client.Cli;
using Tunnel.Client.Diagnostics;
using Tunnel.Client.Options;
using Tunnel.Common;
using Tunnel.Hosting;

const string ProgramName = ClientApp.ProgramName;

// "certs ..." is a command family of its own, with its own verbs; it is handed over before the daemon's parser.
if (args is ["certs", ..])
{
    return await CertsProgram.RunAsync(ProgramName + " certs", args[1..]);
}

return await CommandLineApp.RunAsync(ProgramName, args,
    [typeof(ClientRunOptions), typeof(DiagnoseOptions), typeof(VersionOptions), typeof(CertsVerbOptions), typeof(ImportStunnelOptions)], verb => verb switch
{
    ClientRunOptions run => DaemonProgram.RunAsync(ProgramName, run, ClientOptionsReader.Read, ClientApp.Create),
    DiagnoseOptions diagnose => DiagnoseCommand.RunAsync(diagnose, Console.Out, TimeProvider.System),
    VersionOptions => Task.FromResult(PrintVersion()),
    ImportStunnelOptions import => ImportStunnelCommand.RunAsync(import, Tunnel.Config.Stunnel.StunnelRole.Client, ClientOptionsReader.Read, Console.Out, Console.Error),
    _ => Task.FromResult(ExitCodes.Usage),
});

static int PrintVersion()
{
    Console.WriteLine(VersionInfo.Describe(ProgramName));
    return ExitCodes.Ok;
}
