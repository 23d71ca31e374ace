import QMISim
print("qmi-sim: not implemented yet")
