print("dfgaze: not yet wired")
