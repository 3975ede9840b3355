"""The course's own machinery, which students never import: executing notebooks with parameters
(`notebooks`), the sweep's declarations and runs (`plan`, `sweep`), the README's and docs' generated
tables and links (`readme`), and the speed benchmark (`bench`). `python -m mnist_course` drives it.
"""
