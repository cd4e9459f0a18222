"""thresher.cards"""
