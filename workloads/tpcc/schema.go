package tpcc

import "github.com/replbench/replbench/storage"

// Table and index names, as in TPC-C and DBT2.
const (
	tWarehouse = "warehouse"
	tDistrict  = "district"
	tCustomer  = "customer"
	tHistory   = "history"
	tNewOrder  = "new_order"
	tOrders    = "orders"
	tOrderLine = "order_line"
	tItem      = "item"
	tStock     = "stock"

	ixCustomerName = "idx_customer" // (c_w_id, c_d_id, c_last, c_first): Payment/Order-Status by last name
	ixOrderCust    = "idx_order"    // (o_w_id, o_d_id, o_c_id, o_id): a customer's last order
)

// Column positions.
const (
	wID = iota
	wName
	wStreet1
	wStreet2
	wCity
	wState
	wZip
	wTax
	wYtd
)

const (
	dID = iota
	dWID
	dName
	dStreet1
	dStreet2
	dCity
	dState
	dZip
	dTax
	dYtd
	dNextOID
)

const (
	cID = iota
	cDID
	cWID
	cFirst
	cMiddle
	cLast
	cStreet1
	cStreet2
	cCity
	cState
	cZip
	cPhone
	cSince
	cCredit
	cCreditLim
	cDiscount
	cBalance
	cYtdPayment
	cPaymentCnt
	cDeliveryCnt
	cData
)

const (
	hID = iota
	hCID
	hCDID
	hCWID
	hDID
	hWID
	hDate
	hAmount
	hData
)

const (
	noOID = iota
	noDID
	noWID
)

const (
	oID = iota
	oDID
	oWID
	oCID
	oEntryD
	oCarrierID
	oOlCnt
	oAllLocal
)

const (
	olOID = iota
	olDID
	olWID
	olNumber
	olIID
	olSupplyWID
	olDeliveryD
	olQuantity
	olAmount
	olDistInfo
)

const (
	iID = iota
	iImID
	iName
	iPrice
	iData
)

const (
	sIID      = 0
	sWID      = 1
	sQuantity = 2
	sDist01   = 3 // s_dist_01 .. s_dist_10 at 3..12
	sYtd      = 13
	sOrderCnt = 14
	sRemote   = 15
	sData     = 16
)

func col(name string, t storage.ColumnType, size int) storage.Column {
	return storage.Column{Name: name, Type: t, Size: size}
}

func intc(name string) storage.Column       { return col(name, storage.Int, 0) }
func money(name string) storage.Column      { return col(name, storage.Float, 0) }
func str(name string, n int) storage.Column { return col(name, storage.String, n) }

// Schema returns the nine tables. Money and rates are float64 as in DBT2's C driver; dates
// are unix seconds. Two additions to the standard: history has an auto-increment h_id
// primary key (TPC-C gives it none, and storage refuses replication of a table without one,
// like PXC strict mode and Group Replication), and orders has DBT2/go-tpc's index on the
// customer for Order-Status.
func Schema() []storage.TableSchema {
	nullable := func(c storage.Column) storage.Column { c.Nullable = true; return c }
	stock := []storage.Column{intc("s_i_id"), intc("s_w_id"), intc("s_quantity")}
	for i := 1; i <= 10; i++ {
		stock = append(stock, str(distName(i), 24))
	}
	stock = append(stock, intc("s_ytd"), intc("s_order_cnt"), intc("s_remote_cnt"), str("s_data", 50))
	hid := intc("h_id")
	hid.AutoIncrement = true
	return []storage.TableSchema{
		{Name: tWarehouse, Columns: []storage.Column{intc("w_id"), str("w_name", 10), str("w_street_1", 20), str("w_street_2", 20),
			str("w_city", 20), str("w_state", 2), str("w_zip", 9), money("w_tax"), money("w_ytd")}, PrimaryKey: []int{wID}},
		{Name: tDistrict, Columns: []storage.Column{intc("d_id"), intc("d_w_id"), str("d_name", 10), str("d_street_1", 20), str("d_street_2", 20),
			str("d_city", 20), str("d_state", 2), str("d_zip", 9), money("d_tax"), money("d_ytd"), intc("d_next_o_id")}, PrimaryKey: []int{dWID, dID}},
		{Name: tCustomer, Columns: []storage.Column{intc("c_id"), intc("c_d_id"), intc("c_w_id"), str("c_first", 16), str("c_middle", 2), str("c_last", 16),
			str("c_street_1", 20), str("c_street_2", 20), str("c_city", 20), str("c_state", 2), str("c_zip", 9), str("c_phone", 16), intc("c_since"),
			str("c_credit", 2), money("c_credit_lim"), money("c_discount"), money("c_balance"), money("c_ytd_payment"), intc("c_payment_cnt"),
			intc("c_delivery_cnt"), str("c_data", 500)},
			PrimaryKey: []int{cWID, cDID, cID},
			Indexes:    []storage.Index{{Name: ixCustomerName, Columns: []int{cWID, cDID, cLast, cFirst}}}},
		{Name: tHistory, Columns: []storage.Column{hid, intc("h_c_id"), intc("h_c_d_id"), intc("h_c_w_id"), intc("h_d_id"), intc("h_w_id"),
			intc("h_date"), money("h_amount"), str("h_data", 24)}, PrimaryKey: []int{hID}},
		{Name: tNewOrder, Columns: []storage.Column{intc("no_o_id"), intc("no_d_id"), intc("no_w_id")}, PrimaryKey: []int{noWID, noDID, noOID}},
		{Name: tOrders, Columns: []storage.Column{intc("o_id"), intc("o_d_id"), intc("o_w_id"), intc("o_c_id"), intc("o_entry_d"),
			nullable(intc("o_carrier_id")), intc("o_ol_cnt"), intc("o_all_local")},
			PrimaryKey: []int{oWID, oDID, oID},
			Indexes:    []storage.Index{{Name: ixOrderCust, Columns: []int{oWID, oDID, oCID, oID}}}},
		{Name: tOrderLine, Columns: []storage.Column{intc("ol_o_id"), intc("ol_d_id"), intc("ol_w_id"), intc("ol_number"), intc("ol_i_id"),
			intc("ol_supply_w_id"), nullable(intc("ol_delivery_d")), intc("ol_quantity"), money("ol_amount"), str("ol_dist_info", 24)},
			PrimaryKey: []int{olWID, olDID, olOID, olNumber}},
		{Name: tItem, Columns: []storage.Column{intc("i_id"), intc("i_im_id"), str("i_name", 24), money("i_price"), str("i_data", 50)},
			PrimaryKey: []int{iID}},
		{Name: tStock, Columns: stock, PrimaryKey: []int{sWID, sIID}},
	}
}

func distName(d int) string {
	return "s_dist_" + string(rune('0'+d/10)) + string(rune('0'+d%10))
}
