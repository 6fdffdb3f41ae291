from kiln.hub.main import main

main()
