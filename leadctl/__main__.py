from leadctl.cli.app import main

main()
