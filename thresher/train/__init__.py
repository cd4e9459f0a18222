"""thresher.train"""
