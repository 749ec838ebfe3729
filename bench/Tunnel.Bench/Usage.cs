namespace Tunnel.Bench;

internal static class Usage
{
    public const string Text = """
        tunnel-bench COMMAND [options]   (all addresses must be on loopback)

          echo   --listen 127.0.0.1:PORT [--max-seconds 3600]
                 Echo server that keeps every connection open until the peer closes it.
          hold   --target 127.0.0.1:PORT --count N [--concurrency 100] [--payload-bytes 16]
                 [--echo-timeout 30] [--deadline 600] --ready-file F --release-file F [--max-hold 900]
                 Opens N connections, sends a few bytes on each and waits for the echo, writes a JSON summary to
                 the ready file, holds until the release file exists, checks each connection is still alive with a
                 second echo, closes all and prints the final JSON summary.
          delay  --listen 127.0.0.1:PORT --target 127.0.0.1:PORT [--delay-ms 25] [--emulate-connect true]
                 [--max-seconds 3600]
                 TCP relay adding a one-way delay to every byte in each direction (and a FIN after the bytes).
                 With --emulate-connect, the target is dialled and the first client bytes forwarded no earlier than
                 3 one-way delays after accept, as the TCP handshake (SYN, SYN-ACK) would have cost on a real path.
          ttfb   --target 127.0.0.1:PORT [--count 50] [--timeout 10] [--request 'GET / HTTP/1.1...']
                 Sequential new connections: connect, send the request, time until the first response byte.
          chain  [--count 2000] [--rounds 5]
                 CPU per X509Chain.Build of a client certificate under the daemons' policy (what SslStream does
                 after every handshake, resumed or not, on each side), median of the rounds, as JSON.
        """;
}
