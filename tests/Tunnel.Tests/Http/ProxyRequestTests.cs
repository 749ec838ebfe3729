using System.Text;
using Tunnel.Http;

namespace Tunnel.Tests.Http;

public sealed class ProxyRequestTests
{
    [Theory]
    [InlineData("CONNECT example.com:443 HTTP/1.1\r\n")]
    [InlineData("GET http://example.com/ HTTP/1.1\r\n")]
    [InlineData("POST https://example.com/upload HTTP/1.1\r\n")]
    [InlineData("OPTIONS ftp://example.com/ HTTP/1.1\r\n")]
    public void Recognises_proxy_requests(string start) => Assert.True(ProxyRequest.IsProxyRequest(Encoding.ASCII.GetBytes(start)));

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("\x16\x03\x01\x02\x00")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n")]
    [InlineData("get http://example.com/ HTTP/1.1\r\n")]
    [InlineData("")]
    [InlineData("CONNECT")]
    public void Leaves_other_traffic_alone(string start) => Assert.False(ProxyRequest.IsProxyRequest(Encoding.Latin1.GetBytes(start)));

    [Fact]
    public void The_error_response_is_complete_http_with_the_reason_in_a_header_and_the_body()
    {
        var text = Encoding.UTF8.GetString(ProxyErrorResponse.Build(503, "tunnel-server cannot connect to a:443: connection refused\nsecond line"));

        Assert.StartsWith("HTTP/1.1 503 Service Unavailable\r\n", text);
        Assert.Contains("X-Tunnel-Error: tunnel-server cannot connect to a:443: connection refused second line\r\n", text);
        Assert.Contains("Connection: close\r\n", text);
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.Equal("tunnel-server cannot connect to a:443: connection refused second line\n", body);
        Assert.Contains($"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n", text);
    }
}
