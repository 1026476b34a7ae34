package complycube

// SetPageSize lets tests page through few checks.
func SetPageSize(c *Client, n int) { c.pageSize = n }
