from tenrec.cli import main

raise SystemExit(main())
