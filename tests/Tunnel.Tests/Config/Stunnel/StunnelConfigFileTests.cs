using Tunnel.Config.Stunnel;

namespace Tunnel.Tests.Config.Stunnel;

/// <summary>stunnel.conf is read as stunnel 5.68 reads it: whole-line comments, sections, option names in any case,
/// includes expanded in place; every line keeps its file and number for errors.</summary>
public sealed class StunnelConfigFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnel-stunnel-").FullName;

    [Fact(Timeout = 10_000)]
    public async Task Globals_sections_comments_and_line_numbers_are_kept()
    {
        var path = Write("stunnel.conf", "\uFEFF; a comment\n# another\n  foreground = yes  \n\npid =\n[squid]\r\nclient=yes\n   ACCEPT   =   127.0.0.1:3129\n; connect = old:443\nconnect = tunnel.example:443\n");

        var file = await Task.Run(() => StunnelConfigFile.Read(path));

        Assert.Empty(file.Errors);
        Assert.Equal(["foreground = yes", "pid = "], file.Globals.Select(l => $"{l.Option} = {l.Value}"));
        Assert.Equal(3, file.Globals[0].Line);
        Assert.Equal(5, file.Globals[1].Line);
        var section = Assert.Single(file.Sections);
        Assert.Equal("squid", section.Name);
        Assert.Equal(6, section.Line);
        Assert.Equal([(7, "client", "yes"), (8, "ACCEPT", "127.0.0.1:3129"), (10, "connect", "tunnel.example:443")],
            section.Lines.Select(l => (l.Line, l.Option, l.Value)));
        Assert.All(section.Lines, l => Assert.Equal("squid", l.Section));
        Assert.Equal($"{path}:10", section.Lines[2].Where);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_line_without_an_equals_sign_is_an_error_with_its_line_and_reading_goes_on()
    {
        var path = Write("stunnel.conf", "[a]\naccept 3129\nconnect = 443\n[b\n");

        var file = await Task.Run(() => StunnelConfigFile.Read(path));

        Assert.Equal(2, file.Errors.Count);
        Assert.StartsWith($"{path}:2: \"accept 3129\": no '=' found", file.Errors[0].ToString());
        Assert.StartsWith($"{path}:4: ", file.Errors[1].ToString());
        Assert.Equal("connect", Assert.Single(file.Sections).Lines.Single().Option);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_included_folder_is_read_in_alphabetical_order_continuing_the_current_section()
    {
        var conf = Directory.CreateDirectory(Path.Combine(_folder, "conf.d")).FullName;
        File.WriteAllText(Path.Combine(conf, "20-second.conf"), "[second]\naccept = 2\n");
        File.WriteAllText(Path.Combine(conf, "10-first.conf"), "cert = /etc/first.pem\n[first]\naccept = 1\n");
        var single = Write("one.conf", "connect = 9\n");
        var path = Write("stunnel.conf", $"debug = 5\ninclude = {conf}\n[last]\ninclude = {single}\naccept = 3\n");

        var file = await Task.Run(() => StunnelConfigFile.Read(path));

        Assert.Empty(file.Errors);
        Assert.Equal(["debug", "cert"], file.Globals.Select(l => l.Option));
        Assert.Equal(Path.Combine(conf, "10-first.conf"), file.Globals[1].File);
        Assert.Equal(["first", "second", "last"], file.Sections.Select(s => s.Name));
        var last = file.Sections[2];
        Assert.Equal([("connect", single, 1), ("accept", path, 5)], last.Lines.Select(l => (l.Option, l.File, l.Line)));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_missing_include_names_the_line()
    {
        var path = Write("stunnel.conf", "[a]\ninclude = /nonexistent/conf.d\n");

        var file = await Task.Run(() => StunnelConfigFile.Read(path));

        var error = Assert.Single(file.Errors);
        Assert.Equal($"{path}:2", error.Where);
        Assert.Equal("include", error.Option);
        Assert.Contains("/nonexistent/conf.d", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_file_that_includes_itself_stops_with_an_error()
    {
        var path = Path.Combine(_folder, "loop.conf");
        File.WriteAllText(path, $"include = {path}\n");

        var file = await Task.Run(() => StunnelConfigFile.Read(path));

        Assert.Contains(file.Errors, e => e.Message.Contains("nested more than", StringComparison.Ordinal));
    }

    [Theory(Timeout = 10_000)]
    [InlineData("{ \"listen\": \"127.0.0.1:0\" }", false)]
    [InlineData("// Tunnel\n/* block */\n  {\n}", false)]
    [InlineData("\uFEFF{}", false)]
    [InlineData("; stunnel\n[squid]\naccept = 3129\n", true)]
    [InlineData("foreground = yes\n", true)]
    [InlineData("# comment\n[a]\n", true)]
    [InlineData("", false)]
    public async Task The_format_is_told_by_the_first_significant_character(string text, bool stunnel)
    {
        Assert.Equal(stunnel, await Task.Run(() => StunnelConfigFile.LooksLikeStunnelText(text)));
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
