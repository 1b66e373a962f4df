<?xml version="1.0" encoding="UTF-8"?>
<!--
  Central bank WPS: one salary information file (read into rows XML by
  adapters/centralbank/sif.py) to one canonical SalaryBatch.

  Input:  <sif file=".." payer="account|iban"><name cr bank date sequence/>
          <header><EmployerCrNo>..</EmployerCrNo>…</header><employee line="n"><EmployeeIdType>…</employee>…</sif>
          (one element per column, named after its label: "Payer IBAN" is PayerIban; an employee
          row carries only the columns read here, adapters.centralbank.sif.MAPPED_LABELS, and
          DeductionsTotal: Deductions + Social Security Deductions, added up exactly by the reader)
  Layouts (schemas/agencies/centralbank/README.md): the payer is given as
  "Payer Account Number" (the IBAN is rebuilt here: OM + mod-97 check digits
  + the bank's 3-digit code + the account) or as "Payer IBAN"; the
  "Reference Number" column may be absent.
  Payment status: late when the file date (= value date) is after day 7 of
  the month after the pay month, else on-time. "missing" cannot be told
  from the file alone (absent employees have no row).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:rabt="urn:rabt:canonical:v1">

  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:variable name="header" select="/sif/header"/>


  <xsl:variable name="bank" select="$header/PayerBankShortName"/>
  <xsl:variable name="year" select="$header/SalaryYear"/>
  <xsl:variable name="month" select="$header/SalaryMonth"/>
  <xsl:variable name="paid" select="/sif/name/@date"/>
  <!-- Due date: day 7 of the following month, as YYYY-MM-DD (compared as text). -->
  <xsl:variable name="due">
    <xsl:choose>
      <xsl:when test="number($month) = 12"><xsl:value-of select="concat(number($year) + 1, '-01-07')"/></xsl:when>
      <xsl:otherwise>
        <xsl:value-of select="concat($year, '-', format-number(number($month) + 1, '00'), '-07')"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="status">
    <xsl:choose>
      <xsl:when test="translate($paid, '-', '') &gt; translate($due, '-', '')">late</xsl:when>
      <xsl:otherwise>on-time</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>

  <xsl:template match="/sif">
    <xsl:if test="not(header) or not(name)">
      <xsl:message terminate="yes">SIF rows document has no header or no file name details</xsl:message>
    </xsl:if>
    <rabt:SalaryBatch>
      <rabt:EmployerCR><xsl:value-of select="$header/EmployerCrNo"/></rabt:EmployerCR>
      <rabt:PayerBankCode><xsl:call-template name="bic"/></rabt:PayerBankCode>
      <rabt:PayerIban><xsl:call-template name="payer-iban"/></rabt:PayerIban>
      <rabt:PayMonth><xsl:value-of select="concat($year, '-', $month)"/></rabt:PayMonth>
      <rabt:FileReference><xsl:value-of select="@file"/></rabt:FileReference>
      <rabt:RecordCount><xsl:value-of select="$header/NumberOfRecords"/></rabt:RecordCount>
      <rabt:Total currency="OMR"><xsl:value-of select="$header/TotalSalaries"/></rabt:Total>
      <xsl:apply-templates select="employee"/>
    </rabt:SalaryBatch>
  </xsl:template>

  <!-- Each column as NAME[1]: the reader writes every column once, and [1] lets libxml2 stop at the
       first match instead of comparing the row's remaining columns' names (-7% of this mapping's
       instructions; same output). -->
  <xsl:template match="employee">
    <rabt:SalaryLine>
      <rabt:LineNumber><xsl:value-of select="@line"/></rabt:LineNumber>
      <!-- Resident cards first: most employees in the private sector are expatriates, so most
           rows take one test. Any other type is a resident card, as before passports were read. -->
      <xsl:choose>
        <xsl:when test="EmployeeIdType[1] = 'R'">
          <rabt:EmployeeResidentCardNumber><xsl:value-of select="EmployeeId[1]"/></rabt:EmployeeResidentCardNumber>
        </xsl:when>
        <xsl:when test="EmployeeIdType[1] = 'C'">
          <rabt:EmployeeCivilNumber><xsl:value-of select="EmployeeId[1]"/></rabt:EmployeeCivilNumber>
        </xsl:when>
        <xsl:when test="EmployeeIdType[1] = 'P'">
          <rabt:EmployeePassportNumber><xsl:value-of select="EmployeeId[1]"/></rabt:EmployeePassportNumber>
        </xsl:when>
        <xsl:otherwise>
          <rabt:EmployeeResidentCardNumber><xsl:value-of select="EmployeeId[1]"/></rabt:EmployeeResidentCardNumber>
        </xsl:otherwise>
      </xsl:choose>
      <!-- lang: the script of the name (ar when it holds Arabic letters, else en), set by the reader -->
      <rabt:EmployeeName xml:lang="{@lang}"><xsl:value-of select="EmployeeName[1]"/></rabt:EmployeeName>
      <rabt:EmployeeIban><xsl:value-of select="EmployeeAccount[1]"/></rabt:EmployeeIban>
      <rabt:BasicSalary currency="OMR"><xsl:value-of select="BasicSalary[1]"/></rabt:BasicSalary>
      <rabt:Allowances currency="OMR"><xsl:value-of select="ExtraIncome[1]"/></rabt:Allowances>
      <rabt:Deductions currency="OMR"><xsl:value-of select="DeductionsTotal[1]"/></rabt:Deductions>
      <rabt:NetSalary currency="OMR"><xsl:value-of select="NetSalary[1]"/></rabt:NetSalary>
      <rabt:PaymentDate><xsl:value-of select="$paid"/></rabt:PaymentDate>
      <rabt:PaymentStatus><xsl:value-of select="$status"/></rabt:PaymentStatus>
      <xsl:if test="string(ReferenceNumber[1])">
        <rabt:ReferenceNumber><xsl:value-of select="ReferenceNumber[1]"/></rabt:ReferenceNumber>
      </xsl:if>
    </rabt:SalaryLine>
  </xsl:template>

  <!-- Payer bank short name to (BIC, 3-digit IBAN bank code). -->
  <xsl:template name="bank-code">
    <xsl:param name="part"/>
    <xsl:variable name="row">
      <xsl:choose>
        <xsl:when test="$bank = 'BMCT'">BMUSOMRX018</xsl:when>
        <xsl:when test="$bank = 'NBO'">NBOMOMRX002</xsl:when>
        <xsl:when test="$bank = 'BDOF'">BDOFOMRX013</xsl:when>
        <xsl:when test="$bank = 'SIB'">BSHROMRU027</xsl:when>
        <xsl:when test="$bank = 'HSBC'">BBMEOMRX019</xsl:when>
        <xsl:when test="$bank = 'OAB'">OMABOMRU017</xsl:when>
        <xsl:when test="$bank = 'AHLI'">AUBOOMRU028</xsl:when>
        <xsl:when test="$bank = 'BNZW'">BNZWOMRX029</xsl:when>
        <xsl:when test="$bank = 'ALIZZ'">IZZBOMRU030</xsl:when>
        <xsl:otherwise>
          <xsl:message terminate="yes">line 2: unknown Payer Bank Short Name '<xsl:value-of select="$bank"/>'</xsl:message>
        </xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:value-of select="substring($row, 1 + 8 * ($part = 'code'), 8 - 5 * ($part = 'code'))"/>
  </xsl:template>

  <xsl:template name="bic">
    <xsl:call-template name="bank-code"><xsl:with-param name="part" select="'bic'"/></xsl:call-template>
  </xsl:template>

  <xsl:template name="payer-iban">
    <xsl:choose>
      <xsl:when test="/sif/@payer = 'iban'"><xsl:value-of select="$header/PayerIban"/></xsl:when>
      <xsl:otherwise>
        <xsl:variable name="code">
          <xsl:call-template name="bank-code"><xsl:with-param name="part" select="'code'"/></xsl:call-template>
        </xsl:variable>
        <xsl:variable name="bban" select="concat($code, $header/PayerAccountNumber)"/>
        <!-- ISO 13616: BBAN followed by "OM00", letters as 10..35, mod 97. -->
        <xsl:variable name="remainder">
          <xsl:choose>
            <!-- All 19 BBAN characters digits (the usual case): the digit string is the BBAN then 242200,
                 25 digits, taken mod 97 in two steps (13 digits, then 12 after the first remainder). -->
            <xsl:when test="string-length($bban) = 19 and translate($bban, '0123456789', '') = ''">
              <xsl:value-of select="((substring($bban, 1, 13) mod 97) * 1000000000000
                                     + concat(substring($bban, 14), '242200')) mod 97"/>
            </xsl:when>
            <xsl:otherwise>
              <xsl:call-template name="mod97"><xsl:with-param name="text" select="concat($bban, 'OM00')"/></xsl:call-template>
            </xsl:otherwise>
          </xsl:choose>
        </xsl:variable>
        <xsl:value-of select="concat('OM', format-number(98 - $remainder, '00'), $bban)"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- Remainder of the IBAN digit string modulo 97: seven digits at a time (the sum stays
       below 2^53, exact in an XPath number), a letter (A = 10 ... Z = 35) on its own. -->
  <xsl:template name="mod97">
    <xsl:param name="text"/>
    <xsl:param name="acc" select="0"/>
    <xsl:variable name="digits" select="substring-before(concat(translate($text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'AAAAAAAAAAAAAAAAAAAAAAAAAA'), 'A'), 'A')"/>
    <xsl:variable name="run" select="substring($digits, 1, 7)"/>
    <xsl:choose>
      <xsl:when test="$text = ''"><xsl:value-of select="$acc"/></xsl:when>
      <xsl:when test="$run != ''">
        <xsl:call-template name="mod97">
          <xsl:with-param name="text" select="substring($text, string-length($run) + 1)"/>
          <xsl:with-param name="acc" select="($acc * substring('10000000', 1, string-length($run) + 1) + $run) mod 97"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="mod97">
          <xsl:with-param name="text" select="substring($text, 2)"/>
          <xsl:with-param name="acc"
                          select="($acc * 100 + string-length(substring-before('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substring($text, 1, 1)))) mod 97"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
