from iep.entrypoints.cli import main

main()
