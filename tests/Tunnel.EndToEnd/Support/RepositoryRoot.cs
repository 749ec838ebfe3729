namespace Tunnel.EndToEnd.Support;

/// <summary>The checkout the tests run from: the first folder above the test assembly that holds Tunnel.sln.</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(folder.FullName, "Tunnel.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no Tunnel.sln above {AppContext.BaseDirectory}; run the tests from a checkout");
    }
}
