using System.Net;
using Tunnel.Net;

namespace Tunnel.Tests.Config;

public sealed class HostPortTests
{
    [Theory]
    [InlineData("tunnel.example.com:443", "tunnel.example.com", 443)]
    [InlineData("10.0.0.1:8443", "10.0.0.1", 8443)]
    [InlineData("[::1]:443", "::1", 443)]
    [InlineData(":443", "", 443)]
    [InlineData("*:443", "*", 443)]
    public void Parses_host_and_port(string text, string host, int port)
    {
        Assert.True(HostPort.TryParse(text, out var value, out _));
        Assert.Equal(new HostPort(host, port), value);
    }

    [Theory]
    [InlineData("tunnel.example.com", "has no port")]
    [InlineData("host:99999", "invalid port")]
    [InlineData("::1:443", "[address]:port")]
    [InlineData("", "is empty")]
    public void Explains_what_is_wrong(string text, string expected)
    {
        Assert.False(HostPort.TryParse(text, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Wildcards_bind_every_address_and_names_other_than_localhost_do_not_bind()
    {
        Assert.True(HostPort.Parse("*:1").TryGetBindAddress(out var any));
        Assert.Equal(IPAddress.IPv6Any, any);
        Assert.True(HostPort.Parse("localhost:1").TryGetBindAddress(out var loopback));
        Assert.Equal(IPAddress.Loopback, loopback);
        Assert.False(HostPort.Parse("example.com:1").TryGetBindAddress(out _));
    }

    [Fact]
    public void Formats_ipv6_in_brackets() => Assert.Equal("[::1]:443", new HostPort("::1", 443).ToString());
}
