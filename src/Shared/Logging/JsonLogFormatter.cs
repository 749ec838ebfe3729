using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Parsing;

namespace Tunnel.Logging;

/// <summary>One flat JSON object per line, the shape log shippers index without configuration:
/// <c>{"time","level","event","category","message", ...named properties, "exception"}</c>. The message is rendered
/// with strings unquoted, as a person reads it; the properties keep their types (numbers stay numbers).</summary>
/// <remarks>Serilog.Formatting.Compact writes CLEF (<c>@t</c>, <c>@mt</c>, <c>@l</c>, the template unrendered), a
/// different shape from the one docs/operations.md documents and shippers are configured for; Serilog's own
/// JsonFormatter nests properties and quotes strings inside the rendered message.</remarks>
internal sealed class JsonLogFormatter : ITextFormatter
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("time", logEvent.Timestamp.ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("level", Level(logEvent.Level));
            if (logEvent.Properties.TryGetValue("EventId", out var eventId) && eventId is StructureValue structure &&
                structure.Properties.FirstOrDefault(p => p.Name == "Name")?.Value is ScalarValue { Value: string name })
            {
                json.WriteString("event", name);
            }

            if (logEvent.Properties.TryGetValue("SourceContext", out var context) && context is ScalarValue { Value: string category })
            {
                json.WriteString("category", category);
            }

            json.WriteString("message", Render(logEvent));
            foreach (var (key, value) in logEvent.Properties)
            {
                if (key is "EventId" or "SourceContext")
                {
                    continue;
                }

                json.WritePropertyName(char.ToLowerInvariant(key[0]) + key[1..]);
                WriteValue(json, value);
            }

            if (logEvent.Exception is { } exception)
            {
                json.WriteString("exception", exception.ToString());
            }

            json.WriteEndObject();
        }

        output.Write(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        output.Write('\n');
    }

    private static string Render(LogEvent logEvent)
    {
        var text = new StringBuilder();
        foreach (var token in logEvent.MessageTemplate.Tokens)
        {
            if (token is PropertyToken property && logEvent.Properties.TryGetValue(property.PropertyName, out var value))
            {
                if (value is ScalarValue { Value: string s })
                {
                    text.Append(s);
                }
                else if (value is ScalarValue { Value: IFormattable formattable } && property.Format is { } format)
                {
                    text.Append(formattable.ToString(format, CultureInfo.InvariantCulture));
                }
                else
                {
                    value.Render(new StringWriter(text, CultureInfo.InvariantCulture), property.Format, CultureInfo.InvariantCulture);
                }
            }
            else
            {
                text.Append(token is TextToken t ? t.Text : token.ToString());
            }
        }

        return text.ToString();
    }

    private static void WriteValue(Utf8JsonWriter json, LogEventPropertyValue value)
    {
        switch (value)
        {
            case ScalarValue { Value: null }:
                json.WriteNullValue();
                break;
            case ScalarValue { Value: bool b }:
                json.WriteBooleanValue(b);
                break;
            case ScalarValue { Value: int or long or short or byte or uint or ulong or ushort } number:
                json.WriteNumberValue(Convert.ToInt64(number.Value, CultureInfo.InvariantCulture));
                break;
            case ScalarValue { Value: double or float or decimal } real:
                json.WriteNumberValue(Convert.ToDouble(real.Value, CultureInfo.InvariantCulture));
                break;
            case ScalarValue { Value: DateTimeOffset time }:
                json.WriteStringValue(time.ToString("O", CultureInfo.InvariantCulture));
                break;
            case ScalarValue scalar:
                json.WriteStringValue(Convert.ToString(scalar.Value, CultureInfo.InvariantCulture));
                break;
            case SequenceValue sequence:
                json.WriteStartArray();
                foreach (var element in sequence.Elements)
                {
                    WriteValue(json, element);
                }

                json.WriteEndArray();
                break;
            case StructureValue structure:
                json.WriteStartObject();
                foreach (var property in structure.Properties)
                {
                    json.WritePropertyName(property.Name);
                    WriteValue(json, property.Value);
                }

                json.WriteEndObject();
                break;
            default:
                json.WriteStringValue(value.ToString());
                break;
        }
    }

    private static string Level(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "information",
        LogEventLevel.Warning => "warning",
        LogEventLevel.Error => "error",
        _ => "critical",
    };
}
