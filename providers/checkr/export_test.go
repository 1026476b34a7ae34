package checkr

// SetPageSize lets tests page through few items.
func SetPageSize(c *Client, n int) { c.pageSize = n }
