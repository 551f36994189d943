"""Applications and launches: forms, the launch engine, the apps' work, routes, control plane."""
