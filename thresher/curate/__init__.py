"""thresher.curate"""
