"""tenrec install: plan a cloud for this host (or take a config), then check, bootstrap,
generate secrets, deploy, verify and summarise, resuming where an earlier run stopped."""
