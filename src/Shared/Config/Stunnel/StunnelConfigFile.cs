namespace Tunnel.Config.Stunnel;

/// <summary>One <c>option = value</c> line of a stunnel configuration, with the file and line it came from and the
/// section it belongs to (<see langword="null"/>: the global section before the first <c>[service]</c>).</summary>
internal sealed record StunnelLine(string File, int Line, string? Section, string Option, string Value)
{
    /// <summary>Where the line is, as <c>file:line</c>.</summary>
    public string Where => $"{File}:{Line}";

    public override string ToString() => $"{Where}: {Option} = {Value}";
}

/// <summary>A <c>[service]</c> section: its name, where its header is, and its own lines (not the global ones it
/// inherits).</summary>
internal sealed record StunnelSection(string Name, string File, int Line, IReadOnlyList<StunnelLine> Lines)
{
    public string Where => $"{File}:{Line}";
}

/// <summary>A problem found while reading or converting a stunnel configuration. <see cref="Where"/> is
/// <c>file:line</c> (or the file alone), <see cref="Option"/> the stunnel option concerned, if any.</summary>
internal sealed record StunnelProblem(string Where, string? Option, string Message)
{
    public static StunnelProblem At(StunnelLine line, string message) => new(line.Where, line.Option, message);

    public override string ToString() => Option is null ? $"{Where}: {Message}" : $"{Where}: {Option}: {Message}";
}

/// <summary>A parsed stunnel.conf, with every <c>include</c> expanded in place, as stunnel reads it: global options
/// first, then <c>[service]</c> sections that inherit the service-level options set in the global section.</summary>
/// <remarks>The syntax follows stunnel 5.68's reader (src/options.c): leading and trailing white space is ignored;
/// empty lines and lines starting with <c>;</c> or <c>#</c> are comments (a comment is always a whole line); a line
/// that starts with <c>[</c> and ends with <c>]</c> opens a section; any other line is <c>option = value</c>, split at
/// the first <c>=</c>. Option names are case-insensitive. A UTF-8 byte order mark is skipped. <c>include = DIR</c>
/// reads the regular files of DIR in alphabetical order, continuing the current section (a file may open new ones);
/// a file is also accepted.</remarks>
internal sealed class StunnelConfigFile
{
    private const int MaxIncludeDepth = 16;

    private readonly List<StunnelLine> _globals = [];
    private readonly List<(string Name, string File, int Line, List<StunnelLine> Lines)> _sections = [];
    private readonly List<StunnelProblem> _errors = [];

    private StunnelConfigFile(string path) => Path = path;

    /// <summary>The file that was read (as given).</summary>
    public string Path { get; }

    /// <summary>Options of the global section, in order (includes expanded).</summary>
    public IReadOnlyList<StunnelLine> Globals => _globals;

    public IReadOnlyList<StunnelSection> Sections =>
        _sections.Select(s => new StunnelSection(s.Name, s.File, s.Line, s.Lines)).ToList();

    /// <summary>Syntax errors (no <c>=</c>, an unreadable include...), each with its file and line.</summary>
    public IReadOnlyList<StunnelProblem> Errors => _errors;

    /// <summary>Reads <paramref name="path"/> and what it includes. Problems are collected in
    /// <see cref="Errors"/>; reading carries on after a bad line so every problem is reported at once.</summary>
    public static StunnelConfigFile Read(string path)
    {
        var file = new StunnelConfigFile(path);
        if (!File.Exists(path))
        {
            file._errors.Add(new StunnelProblem(path, null, "the file does not exist (check the path)"));
            return file;
        }

        file.ReadFile(path, depth: 0);
        return file;
    }

    /// <summary>Parses <paramref name="text"/> as if it were the file <paramref name="path"/> (includes are read
    /// from disk, relative to the working directory as stunnel does).</summary>
    public static StunnelConfigFile Parse(string path, string text)
    {
        var file = new StunnelConfigFile(path);
        file.ReadText(path, text, depth: 0);
        return file;
    }

    private void ReadFile(string path, int depth)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _errors.Add(new StunnelProblem(path, null, $"cannot read: {ex.Message}"));
            return;
        }

        ReadText(path, text, depth);
    }

    private void ReadText(string path, string text, int depth)
    {
        var lines = text.Split('\n');
        for (var index = 0; index < lines.Length; index++)
        {
            var number = index + 1;
            var raw = lines[index];
            if (index == 0 && raw.StartsWith('\uFEFF'))
            {
                raw = raw[1..];
            }

            var line = raw.Trim();
            if (line.Length == 0 || line[0] is ';' or '#')
            {
                continue;
            }

            if (line[0] == '[' && line[^1] == ']')
            {
                var name = line[1..^1];
                if (name.Trim().Length == 0)
                {
                    _errors.Add(new StunnelProblem($"{path}:{number}", null, "a section needs a name, e.g. [squid-parent]"));
                }

                _sections.Add((name, path, number, []));
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                _errors.Add(new StunnelProblem($"{path}:{number}", null,
                    $"\"{line}\": no '=' found; write 'option = value', '[service]' or a comment starting with ';' or '#'"));
                continue;
            }

            var option = line[..equals].TrimEnd();
            var value = line[(equals + 1)..].TrimStart();
            var section = _sections.Count == 0 ? null : _sections[^1].Name;
            var parsed = new StunnelLine(path, number, section, option, value);
            if (option.Equals("include", StringComparison.OrdinalIgnoreCase))
            {
                Include(parsed, depth);
                continue;
            }

            if (section is null)
            {
                _globals.Add(parsed);
            }
            else
            {
                _sections[^1].Lines.Add(parsed);
            }
        }
    }

    private void Include(StunnelLine line, int depth)
    {
        if (depth >= MaxIncludeDepth)
        {
            _errors.Add(StunnelProblem.At(line, $"includes are nested more than {MaxIncludeDepth} deep (does a file include itself?)"));
            return;
        }

        var target = line.Value;
        if (Directory.Exists(target))
        {
            // As stunnel: every regular file of the folder, in alphabetical (byte) order.
            var files = Directory.GetFiles(target).Order(StringComparer.Ordinal).ToList();
            foreach (var file in files)
            {
                ReadFile(file, depth + 1);
            }
        }
        else if (File.Exists(target))
        {
            ReadFile(target, depth + 1);
        }
        else
        {
            _errors.Add(StunnelProblem.At(line, $"'{target}' is neither a folder nor a file (include reads every file of a folder, in alphabetical order)"));
        }
    }

    /// <summary>Whether <paramref name="path"/> holds a stunnel configuration rather than JSON: its first
    /// significant character (after white space, a byte order mark, and <c>;</c>, <c>#</c> or <c>//</c> comment lines
    /// and <c>/* */</c> comments) is not <c>{</c>.</summary>
    public static bool LooksLikeStunnel(string path)
    {
        string text;
        try
        {
            using var reader = new StreamReader(path);
            var buffer = new char[64 * 1024];
            text = new string(buffer, 0, reader.ReadBlock(buffer));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        return LooksLikeStunnelText(text);
    }

    public static bool LooksLikeStunnelText(string text)
    {
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c) || c == '\uFEFF')
            {
                i++;
            }
            else if (c is ';' or '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                var end = text.IndexOf('\n', i);
                i = end < 0 ? text.Length : end + 1;
            }
            else if (c == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                var end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? text.Length : end + 2;
            }
            else
            {
                return c != '{';
            }
        }

        return false;
    }
}
