"""One package per system: its task (config, data, nets, steps), its evaluation, its tools and
its own command-line verbs. `fugato.registry` maps a config's `model = "..."` to its Task."""
