from hybridtune._cli import entry_point

entry_point()
