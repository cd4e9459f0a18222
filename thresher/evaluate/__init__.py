"""thresher.evaluate"""
