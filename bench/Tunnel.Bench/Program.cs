using Tunnel.Bench;

// tunnel-bench COMMAND [--option value ...]; see Usage below. Results go to stdout (or a file) as JSON.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(Usage.Text);
    return 0;
}

try
{
    var options = BenchArgs.Parse(args.AsSpan(1));
    using var cts = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cts.Cancel();
    };

    var code = args[0] switch
    {
        "echo" => await EchoServer.RunAsync(options, cts.Token),
        "hold" => await IdleHolder.RunAsync(options, cts.Token),
        "delay" => await DelayRelay.RunAsync(options, cts.Token),
        "ttfb" => await TtfbProbe.RunAsync(options, cts.Token),
        "chain" => await ChainBuildCost.RunAsync(options),
        _ => throw new ArgumentException($"unknown command '{args[0]}'"),
    };
    return code;
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync($"tunnel-bench: {ex.Message}\n\n{Usage.Text}");
    return 2;
}
