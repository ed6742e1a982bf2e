(@o_start")
    i32.add2))
