"""(commands to be added)"""
