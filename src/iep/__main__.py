from iep.entrypoints.launch import main

main()
